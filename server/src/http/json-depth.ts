/** Refuses a JSON body nested deeper than the configured limit with a 400 that names the field. */
import type { NextFunction, Request, Response } from 'express';
import { checkJsonDepth } from '../jobs/submit-limits.js';

export function jsonDepthGuard(maxDepth: number) {
  return (req: Request, _res: Response, next: NextFunction): void => {
    if (req.body !== undefined) checkJsonDepth(req.body, maxDepth, []);
    next();
  };
}
