/**
 * Keeps one graphql-ws subscription open. When it ends (a lost connection, a server restart) it is
 * opened again, waiting 1 s, 2 s, 4 s … up to 30 s; `open` is called again, so it can start from where
 * the page is (the wallet's last sequence). A refusal (`giveUp` returns true) ends it for good.
 */
const DELAY_FIRST_MS = 1_000;
const DELAY_MAX_MS = 30_000;

export interface LiveHandlers {
  /** Something arrived: the connection works, the next wait starts short again. */
  alive: () => void;
  ended: (error: unknown) => void;
}

export class LiveSubscription {
  private end: (() => void) | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private delayMs = DELAY_FIRST_MS;
  private stopped = false;

  constructor(
    private readonly open: (handlers: LiveHandlers) => () => void,
    /** Whether the error ends the subscription for good (already dealt with by the caller). */
    private readonly giveUp: (error: unknown) => boolean,
    /** After opening again: catch up with what changed while it was closed. */
    private readonly reopened: () => void,
  ) {}

  start(): void {
    if (this.stopped) return;
    this.end = this.open({ alive: () => { this.delayMs = DELAY_FIRST_MS; }, ended: (error) => this.ended(error) });
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.end?.();
    this.end = null;
  }

  private ended(error: unknown): void {
    this.end = null;
    if (this.stopped || this.giveUp(error)) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.start();
      this.reopened();
    }, this.delayMs);
    this.delayMs = Math.min(this.delayMs * 2, DELAY_MAX_MS);
  }
}
