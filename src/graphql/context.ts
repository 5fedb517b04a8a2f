/** The per-request context: who calls, the services, and per-request DataLoaders. */
import type { Viewer } from '../auth/viewer';
import type { Services } from './services';
import type { Loaders } from './loaders';

export interface Context {
  viewer: Viewer;
  services: Services;
  loaders: Loaders;
  /** `quote` fields run so far in this request (each stores a quote; bounded by quotesPerRequestMax). */
  quotesRun: number;
}

export function createContext(viewer: Viewer, services: Services): Context {
  return { viewer, services, loaders: services.createLoaders(), quotesRun: 0 };
}
