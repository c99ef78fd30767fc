/**
 * What the control plane's triggers remember (migration 0007): webhook deliveries seen, so a
 * replayed delivery id is ignored even after a restart, and small named values such as the
 * last commit seen on a watched branch.
 */
import { type ControlDb, controlDb } from './control-plane-schema.js';
import type { MetadataStore } from './metadata-store.js';

export class TriggerRecords {
  private readonly db: ControlDb;

  constructor(metadata: MetadataStore) {
    this.db = controlDb(metadata.db);
  }

  /**
   * Records a delivery the first time it is seen; false when it was seen before (a replay).
   * Atomic: of two concurrent calls with one id, one gets true.
   */
  async claimDelivery(provider: string, deliveryId: string): Promise<boolean> {
    const inserted = await this.db
      .insertInto('webhook_deliveries')
      .values({
        provider,
        delivery_id: deliveryId,
        received_at: new Date().toISOString(),
        control_run_id: null,
        outcome: 'received',
      })
      .onConflict((oc) => oc.columns(['provider', 'delivery_id']).doNothing())
      .returning('delivery_id')
      .executeTakeFirst();
    return inserted !== undefined;
  }

  /** What became of a delivery: the run it joined, or why it was ignored. */
  async settleDelivery(
    provider: string,
    deliveryId: string,
    outcome: string,
    controlRunId: number | null,
  ): Promise<void> {
    await this.db
      .updateTable('webhook_deliveries')
      .set({ outcome, control_run_id: controlRunId })
      .where('provider', '=', provider)
      .where('delivery_id', '=', deliveryId)
      .execute();
  }

  /** Forgets a claimed delivery that could not be queued, so the sender's retry is not taken for a replay. */
  async releaseDelivery(provider: string, deliveryId: string): Promise<void> {
    await this.db
      .deleteFrom('webhook_deliveries')
      .where('provider', '=', provider)
      .where('delivery_id', '=', deliveryId)
      .execute();
  }

  async deliveries(
    provider: string,
  ): Promise<{ deliveryId: string; outcome: string; controlRunId: number | null }[]> {
    const rows = await this.db
      .selectFrom('webhook_deliveries')
      .selectAll()
      .where('provider', '=', provider)
      .orderBy('received_at')
      .execute();
    return rows.map((row) => ({
      deliveryId: row.delivery_id,
      outcome: row.outcome,
      controlRunId: row.control_run_id === null ? null : Number(row.control_run_id),
    }));
  }

  async getState(key: string): Promise<string | undefined> {
    const row = await this.db
      .selectFrom('trigger_state')
      .select('value')
      .where('key', '=', key)
      .executeTakeFirst();
    return row?.value;
  }

  async setState(key: string, value: string): Promise<void> {
    const updatedAt = new Date().toISOString();
    await this.db
      .insertInto('trigger_state')
      .values({ key, value, updated_at: updatedAt })
      .onConflict((oc) => oc.column('key').doUpdateSet({ value, updated_at: updatedAt }))
      .execute();
  }
}
