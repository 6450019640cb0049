import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

/** A normalised identifier (`email`, `user_id`, `anonymous_id`, `phone`, or an external id type) of one profile. */
@Entity({ name: 'rapport_identity' })
export class IdentityEntity {
  @PrimaryGeneratedColumn({ type: 'bigint' }) id: string;
  @Column('text') type: string;
  @Column('text') value: string;
  @Column({ name: 'profile_id', type: 'uuid' }) profileId: string;
  /** The profile this identity was first attached to: what an unmerge gives it back to. */
  @Column({ name: 'origin_profile_id', type: 'uuid' }) originProfileId: string;
  @Column({ name: 'first_seen_at', type: 'timestamptz' }) firstSeenAt: Date;
}
