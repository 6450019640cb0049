import { Column, Entity, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm';

const numeric = { to: (v: number | null) => v, from: (v: string | null) => (v === null ? null : Number(v)) };

/** A catalog item (`rec_item`): from `upsertItems` or implicitly from e-commerce events. */
@Entity({ name: 'rec_item' })
export class RecItem {
  @PrimaryColumn({ type: 'text' }) id: string;
  @Column({ type: 'text', nullable: true }) title: string | null;
  @Column({ type: 'text', nullable: true }) category: string | null;
  @Column({ type: 'numeric', nullable: true, transformer: numeric }) price: number | null;
  @Column({ type: 'boolean' }) available: boolean;
  @Column({ type: 'jsonb' }) attributes: Record<string, unknown>;
  /** `catalog` (explicit, never overwritten by events) or `event` (implicit). */
  @Column({ type: 'text' }) source: string;
  @Column({ name: 'created_at', type: 'timestamptz' }) createdAt: Date;
  @Column({ name: 'updated_at', type: 'timestamptz' }) updatedAt: Date;
}

/** What one profile did with one item (`rec_interaction`), kept by the plugin's delivery handler. */
@Entity({ name: 'rec_interaction' })
export class RecInteraction {
  @PrimaryColumn({ name: 'profile_id', type: 'uuid' }) profileId: string;
  @PrimaryColumn({ name: 'item_id', type: 'text' }) itemId: string;
  @Column({ type: 'real' }) weight: number;
  @Column({ type: 'int' }) count: number;
  @Column({ type: 'int' }) views: number;
  @Column({ type: 'int' }) adds: number;
  @Column({ type: 'int' }) purchases: number;
  @Column({ name: 'last_at', type: 'timestamptz' }) lastAt: Date;
}

/** A trained model version (`rec_model`): gzip-compressed JSON payload. */
@Entity({ name: 'rec_model' })
export class RecModel {
  @PrimaryGeneratedColumn({ type: 'bigint' }) id: string;
  @Column({ type: 'text' }) name: string;
  @Column({ type: 'int' }) version: number;
  @Column({ type: 'bytea' }) payload: Buffer;
  @Column({ type: 'jsonb' }) metrics: Record<string, unknown>;
  @Column({ name: 'created_at', type: 'timestamptz' }) createdAt: Date;
}
