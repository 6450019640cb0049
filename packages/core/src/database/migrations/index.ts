import { InitialSchema1763800000000 } from './1763800000000-initial-schema';

/** Core migrations, oldest first. */
export const coreMigrations: Function[] = [InitialSchema1763800000000];
