import { Column, Entity, PrimaryColumn } from 'typeorm';

/** Where a trait value came from: the message that set it, and when. */
export interface TraitSource {
  /** Event timestamp of the message that set the value. */
  at: string;
  messageId?: string;
  /** The profile the value was first written to (differs from the owner after a merge). */
  profileId: string;
  /** Name of the API key that sent it (the source, for source-priority survivorship). */
  source?: string;
}

/** One person. A merged-away profile keeps its row as a tombstone pointing at its survivor. */
@Entity({ name: 'rapport_profile' })
export class ProfileEntity {
  @PrimaryColumn('uuid') id: string;
  @Column({ name: 'merged_into', type: 'uuid', nullable: true }) mergedInto: string | null;
  @Column({ type: 'jsonb' }) traits: Record<string, unknown>;
  @Column({ name: 'trait_sources', type: 'jsonb' }) traitSources: Record<string, TraitSource>;
  @Column({ name: 'created_at', type: 'timestamptz' }) createdAt: Date;
  @Column({ name: 'updated_at', type: 'timestamptz' }) updatedAt: Date;
  /** Incremented by every write; writers check it to detect a concurrent change. */
  @Column('integer') version: number;
}
