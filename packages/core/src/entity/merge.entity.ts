import { Column, Entity, PrimaryColumn } from 'typeorm';

/** A merge of one profile into another: why, by whom, and enough to undo it. */
@Entity({ name: 'rapport_merge' })
export class MergeEntity {
  @PrimaryColumn('uuid') id: string;
  @Column({ name: 'survivor_id', type: 'uuid' }) survivorId: string;
  @Column({ name: 'merged_id', type: 'uuid' }) mergedId: string;
  /** `alias`, `shared_identity`, `manual` or `probabilistic`. */
  @Column('text') rule: string;
  @Column({ type: 'double precision', nullable: true }) score: number | null;
  @Column({ type: 'jsonb' }) reason: Record<string, unknown>;
  @Column({ name: 'message_id', type: 'text', nullable: true }) messageId: string | null;
  @Column('text') actor: string;
  @Column({ name: 'created_at', type: 'timestamptz' }) createdAt: Date;
  @Column({ name: 'undone_at', type: 'timestamptz', nullable: true }) undoneAt: Date | null;
  @Column({ name: 'undone_by', type: 'text', nullable: true }) undoneBy: string | null;
}
