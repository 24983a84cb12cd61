// A shared informer per resource kind: client-node's ListWatch (list, watch, relist on 410 Gone)
// plus what it leaves to its caller — restarting after an error with capped exponential backoff, and
// knowing when the cache has been filled once (for /readyz and before any decision is taken).
import {
  ListWatch,
  Watch,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
} from "@kubernetes/client-node";
import { setTimeout as sleep } from "node:timers/promises";
import { describeApiError } from "./errors.ts";

export type InformerEvent = "add" | "update" | "delete";

export interface InformerOptions<T extends KubernetesObject> {
  readonly kind: string;
  readonly kubeConfig: KubeConfig;
  /** Watch path, e.g. /api/v1/services. */
  readonly path: string;
  readonly list: () => Promise<KubernetesListObject<T>>;
  readonly labelSelector?: string;
  readonly backoff?: { readonly initialMs: number; readonly maxMs: number };
  readonly onError?: (message: string) => void;
}

export class SharedInformer<T extends KubernetesObject> {
  readonly kind: string;
  readonly #listWatch: ListWatch<T>;
  readonly #backoff: { readonly initialMs: number; readonly maxMs: number };
  readonly #onError: (message: string) => void;
  #delayMs: number;
  #synced = false;
  #stopped = false;
  #restartTimer: NodeJS.Timeout | undefined;
  #errors = 0;

  constructor(options: InformerOptions<T>) {
    this.kind = options.kind;
    this.#backoff = options.backoff ?? { initialMs: 250, maxMs: 5000 };
    this.#delayMs = this.#backoff.initialMs;
    this.#onError = options.onError ?? (() => undefined);
    const maxDelayMs = this.#backoff.maxMs;
    this.#listWatch = new ListWatch(
      options.path,
      new Watch(options.kubeConfig),
      options.list,
      false,
      options.labelSelector,
      undefined,
      // ListWatch backs off up to 30 s between reconnects on its own; after an API server restart
      // that would leave the agent blind for that long, so its delays are capped like ours.
      { delayFn: (ms) => sleep(Math.min(ms, maxDelayMs)) },
    );
    this.#listWatch.on("error", (error: unknown) => {
      // Stopping aborts the open watch, which ListWatch reports as an error; it is not one.
      if (this.#stopped) return;
      this.#errors += 1;
      this.#onError(`${this.kind} informer: ${describeApiError(error)}; retrying in ${this.#delayMs}ms`);
      this.#scheduleRestart();
    });
  }

  /**
   * A handler that throws is reported, not propagated: an exception inside ListWatch's dispatch would
   * end the process, and one bad object must not take the agent down.
   */
  on(event: InformerEvent, handler: (object: T) => void): void {
    this.#listWatch.on(event, (object: T) => {
      try {
        handler(object);
      } catch (error) {
        const name = `${object.metadata?.namespace ?? ""}/${object.metadata?.name ?? ""}`;
        this.#onError(`${this.kind} informer: handling ${event} of ${name}: ${(error as Error).message}`);
      }
    });
  }

  /** Starts listing and watching; returns when the first attempt has finished, synced or not. */
  async start(): Promise<void> {
    this.#stopped = false;
    const errorsBefore = this.#errors;
    await this.#listWatch.start();
    if (this.#errors === errorsBefore) {
      this.#synced = true;
      this.#delayMs = this.#backoff.initialMs;
    }
  }

  get synced(): boolean {
    return this.#synced;
  }

  list(): readonly T[] {
    return this.#listWatch.list();
  }

  get(name: string, namespace?: string): T | undefined {
    return this.#listWatch.get(name, namespace);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#restartTimer);
    await this.#listWatch.stop();
  }

  #scheduleRestart(): void {
    if (this.#stopped) return;
    clearTimeout(this.#restartTimer);
    const delay = this.#delayMs;
    this.#delayMs = Math.min(this.#delayMs * 2, this.#backoff.maxMs);
    this.#restartTimer = setTimeout(() => {
      void this.start();
    }, delay);
  }
}
