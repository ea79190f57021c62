/**
 * Sections of the job view that other plugins add below a job's tasks (its results, its
 * notifications): each a small function component given the job, rendered in rank order.
 */
import type { Job } from '@cellpipe/schema';
import type * as React from 'react';
import { RankedRegistry } from './registry.js';

export interface IJobSection {
  /** Unique id; also `data-section` on the section's element. */
  id: string;
  /** Lower ranks come first. */
  rank: number;
  /** Renders the section for one job (null for nothing). */
  component: React.ComponentType<{ job: Job }>;
}

export class JobSectionRegistry extends RankedRegistry<IJobSection> {
  constructor() {
    super('a job section');
  }
}
