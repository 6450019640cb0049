import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

/** One stored message (identify, track, page, screen, group or alias). */
@Entity({ name: 'rapport_event' })
export class EventEntity {
  @PrimaryGeneratedColumn({ type: 'bigint' }) id: string;
  @Column({ name: 'message_id', type: 'text' }) messageId: string;
  @Column({ name: 'profile_id', type: 'uuid' }) profileId: string;
  @Column({ name: 'origin_profile_id', type: 'uuid' }) originProfileId: string;
  @Column('text') type: string;
  @Column({ type: 'text', nullable: true }) name: string | null;
  @Column({ name: 'user_id', type: 'text', nullable: true }) userId: string | null;
  @Column({ name: 'anonymous_id', type: 'text', nullable: true }) anonymousId: string | null;
  @Column({ type: 'jsonb' }) properties: Record<string, unknown>;
  @Column({ type: 'jsonb', nullable: true }) traits: Record<string, unknown> | null;
  @Column({ type: 'jsonb' }) context: Record<string, unknown>;
  @Column({ type: 'jsonb', nullable: true }) integrations: Record<string, unknown> | null;
  @Column({ type: 'timestamptz' }) timestamp: Date;
  @Column({ name: 'original_timestamp', type: 'timestamptz', nullable: true }) originalTimestamp: Date | null;
  @Column({ name: 'sent_at', type: 'timestamptz', nullable: true }) sentAt: Date | null;
  @Column({ name: 'received_at', type: 'timestamptz' }) receivedAt: Date;
  @Column({ name: 'source_key_id', type: 'uuid', nullable: true }) sourceKeyId: string | null;
  /** `group` only. */
  @Column({ name: 'group_id', type: 'text', nullable: true }) groupId: string | null;
  /** `page` only. */
  @Column({ type: 'text', nullable: true }) category: string | null;
}
