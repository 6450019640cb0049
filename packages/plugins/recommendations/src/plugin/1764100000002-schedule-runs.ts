import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `rec_schedule_run`: when each scheduled job of the plugin last started (any server). Scheduled
 * runs are on a fixed grid, so the last start plus the period is when the next one runs: what
 * `recommendationModel.nextTrainingAt` reports.
 */
export class ScheduleRuns1764100000002 implements MigrationInterface {
  name = 'ScheduleRuns1764100000002';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE rec_schedule_run (
        name        text PRIMARY KEY,
        last_run    timestamptz NOT NULL
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE rec_schedule_run');
  }
}
