import { Column, Entity, PrimaryColumn } from 'typeorm';

/** An API key. Only a SHA-256 hash of the secret is stored; `prefix` identifies it in lists and logs. */
@Entity({ name: 'rapport_api_key' })
export class ApiKeyEntity {
  @PrimaryColumn('uuid') id: string;
  @Column('text') name: string;
  @Column('text') prefix: string;
  @Column({ name: 'key_hash', type: 'text' }) keyHash: string;
  @Column('text', { array: true }) roles: string[];
  @Column('text', { array: true }) purposes: string[];
  @Column({ name: 'created_at', type: 'timestamptz' }) createdAt: Date;
  @Column({ name: 'last_used_at', type: 'timestamptz', nullable: true }) lastUsedAt: Date | null;
  @Column({ name: 'revoked_at', type: 'timestamptz', nullable: true }) revokedAt: Date | null;
}
