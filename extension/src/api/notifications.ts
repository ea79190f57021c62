/** Notification targets (names only: the server never returns a URL) and a job's deliveries. */
import { DeliveryListSchema, TargetListSchema, type DeliveryList, type TargetList } from '@cellpipe/schema';
import type { CellpipeClient } from './client.js';

export class NotificationsClient {
  constructor(private readonly client: CellpipeClient) {}

  /** The caller's targets and the site-wide ones. */
  targets(): Promise<TargetList> {
    return this.client.requestAPI('api/notifications/targets', TargetListSchema);
  }

  /** Every notification of a job, with each delivery attempt. */
  deliveries(jobId: string): Promise<DeliveryList> {
    return this.client.requestAPI(`api/jobs/${encodeURIComponent(jobId)}/notifications`, DeliveryListSchema);
  }
}
