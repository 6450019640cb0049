import { Column, Entity, PrimaryColumn } from 'typeorm';

/** Running totals per profile, kept by the plugin's delivery handler. */
@Entity({ name: 'loyalty_account' })
export class LoyaltyAccount {
  @PrimaryColumn({ name: 'profile_id', type: 'uuid' }) profileId: string;
  @Column({ name: 'lifetime_revenue', type: 'numeric', transformer: { to: (v: number) => v, from: (v: string) => Number(v) } })
  lifetimeRevenue: number;
  @Column('int') orders: number;
  @Column({ name: 'updated_at', type: 'timestamptz' }) updatedAt: Date;
}
