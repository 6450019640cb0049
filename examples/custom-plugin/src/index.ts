export { loyaltyPlugin, type LoyaltyOptions } from './loyalty.plugin';
export { LoyaltyTier, LoyaltyStatus, LoyaltyResolver, tierFor, loyaltyLoaders, type LoyaltyLoaders } from './loyalty.resolver';
export { LoyaltyAccount } from './loyalty-account.entity';
export { orderRevenue } from './order-revenue';
