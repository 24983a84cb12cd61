// A shared informer per resource kind: client-node's ListWatch (list, watch, relist on 410 Gone)
// plus what it leaves to its caller — restarting after an error with capped exponential backoff, and
// knowing when the cache has been filled once (for /readyz and before any decision is taken). No
// failure ends it: at start-up the API server may not be there yet, or may refuse this agent's
// ServiceAccount until its RBAC has been applied and has propagated (401, 403); all of them are
// retried until they go away.
//
// Its lists are counted where every request of the generated clients is (api-requests.ts); its
// watches do not go through them, so it reports their failures itself (onWatchFailed).
import {
  ListWatch,
  Watch,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
} from "@kubernetes/client-node";
import type { Cancel, Clock } from "../clock/clock.ts";
import { describeRequest } from "./api-requests.ts";
import { classifyApiError, describeApiError, type ApiFailure } from "./errors.ts";

export type InformerEvent = "add" | "update" | "delete";

export interface InformerFailure {
  readonly kind: string;
  readonly resource: string;
  readonly error: unknown;
  readonly retryInMs: number;
  /** The same failure as the last one, with no success in between: worth counting, not logging. */
  readonly repeated: boolean;
}

/** Why an informer has not listed since its last success, for the start-up wait and /readyz. */
export interface InformerFailing {
  /** describeApiError of the last failure. */
  readonly description: string;
  readonly failure: ApiFailure;
  /** Clock time since which every attempt failed this way (no success, no other kind in between). */
  readonly since: number;
}

export interface InformerOptions<T extends KubernetesObject> {
  readonly kind: string;
  readonly kubeConfig: KubeConfig;
  /** Watch path, e.g. /api/v1/services. */
  readonly path: string;
  readonly list: () => Promise<KubernetesListObject<T>>;
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
  readonly backoff?: { readonly initialMs: number; readonly maxMs: number };
  /** Times the restarts after a failure, and ListWatch's own reconnects. */
  readonly clock: Clock;
  /** A list or watch failed; it is retried after retryInMs. */
  readonly onFailure?: (failure: InformerFailure) => void;
  /**
   * A watch request failed: no answer, a refusal, or the connection lost. A watch that was answered
   * and then timed out for silence is none (a quiet resource sends nothing); ListWatch reconnects it.
   */
  readonly onWatchFailed?: (failure: { readonly resource: string; readonly failure: ApiFailure }) => void;
  /** The list and watch work again after failures. */
  readonly onRecovered?: (kind: string) => void;
  /** An event handler threw. */
  readonly onError?: (message: string) => void;
}

/**
 * How a watch ends in the normal course of things: ListWatch aborting it (to reconnect or to stop),
 * silence after the API server answered, or 410 Gone (the resourceVersion is too old: ListWatch
 * lists afresh).
 */
function expected(error: unknown, answered: boolean): boolean {
  const name = error instanceof Error || error instanceof DOMException ? error.name : "";
  const status: unknown =
    typeof error === "object" && error !== null && "statusCode" in error ? error.statusCode : undefined;
  return name === "AbortError" || (answered && name === "TimeoutError") || status === 410;
}

/** client-node's Watch, telling which watch requests failed. */
class ReportingWatch extends Watch {
  readonly #onFailed: (error: unknown) => void;

  constructor(kubeConfig: KubeConfig, onFailed: (error: unknown) => void) {
    super(kubeConfig);
    this.#onFailed = onFailed;
  }

  override async watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    // Set once the API server has answered 200: a timeout after that is silence, not a failure.
    let answered = false;
    const controller = await super.watch(path, queryParams, callback, (error: unknown) => {
      if (error != null && !expected(error, answered)) this.#onFailed(error);
      done(error);
    });
    answered = true;
    return controller;
  }
}

export class SharedInformer<T extends KubernetesObject> {
  readonly kind: string;
  /** As RBAC, the API server's refusals and the metrics spell it: services, vippools.vipd.io, … */
  readonly resource: string;
  readonly #listWatch: ListWatch<T>;
  readonly #backoff: { readonly initialMs: number; readonly maxMs: number };
  readonly #options: InformerOptions<T>;
  readonly #synced = Promise.withResolvers<undefined>();
  #delayMs: number;
  #isSynced = false;
  #stopped = false;
  #cancelRestart: Cancel = () => undefined;
  #errors = 0;
  /** How the failures since the last success went wrong, to report each change once. */
  #failing: string | null = null;
  #failingSince: InformerFailing | null = null;

  constructor(options: InformerOptions<T>) {
    this.kind = options.kind;
    this.resource = describeRequest("GET", options.path).resource;
    this.#options = options;
    this.#backoff = options.backoff ?? { initialMs: 250, maxMs: 5000 };
    this.#delayMs = this.#backoff.initialMs;
    const maxDelayMs = this.#backoff.maxMs;
    this.#listWatch = new ListWatch(
      options.path,
      new ReportingWatch(options.kubeConfig, (error) => {
        if (!this.#stopped)
          options.onWatchFailed?.({ resource: this.resource, failure: classifyApiError(error) });
      }),
      options.list,
      false,
      options.labelSelector,
      options.fieldSelector,
      // ListWatch backs off up to 30 s between reconnects on its own; after an API server restart
      // that would leave the agent blind for that long, so its delays are capped like ours.
      { delayFn: (ms) => options.clock.sleep(Math.min(ms, maxDelayMs)) },
    );
    this.#listWatch.on("error", (error: unknown) => {
      this.#failed(error);
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
        this.#options.onError?.(
          `${this.kind} informer: handling ${event} of ${name}: ${(error as Error).message}`,
        );
      }
    });
  }

  /**
   * Starts listing and watching; returns when the first attempt has finished, synced or not. It never
   * rejects: a failed attempt is retried with backoff (see whenSynced).
   */
  async start(): Promise<void> {
    this.#stopped = false;
    this.#cancelRestart();
    const errorsBefore = this.#errors;
    try {
      await this.#listWatch.start();
    } catch (error) {
      // ListWatch reports list and watch failures as events; this is one before the request was
      // sent, such as credentials that could not be read.
      this.#failed(error);
    }
    if (this.#errors !== errorsBefore) return;
    this.#delayMs = this.#backoff.initialMs;
    if (this.#failing !== null) this.#options.onRecovered?.(this.kind);
    this.#failing = null;
    this.#failingSince = null;
    this.#isSynced = true;
    this.#synced.resolve(undefined);
  }

  get synced(): boolean {
    return this.#isSynced;
  }

  /** How the attempts since the last success failed; null after a success and before any failure. */
  get failing(): InformerFailing | null {
    return this.#failingSince;
  }

  /** Settles once the cache has been filled for the first time, however many attempts that takes. */
  whenSynced(): Promise<void> {
    return this.#synced.promise;
  }

  list(): readonly T[] {
    return this.#listWatch.list();
  }

  get(name: string, namespace?: string): T | undefined {
    return this.#listWatch.get(name, namespace);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#cancelRestart();
    await this.#listWatch.stop();
  }

  #failed(error: unknown): void {
    // Stopping aborts the open watch, which ListWatch reports as an error; it is not one.
    if (this.#stopped) return;
    this.#errors += 1;
    const failing = describeApiError(error);
    this.#options.onFailure?.({
      kind: this.kind,
      resource: this.resource,
      error,
      retryInMs: this.#delayMs,
      repeated: failing === this.#failing,
    });
    this.#failing = failing;
    const failure = classifyApiError(error);
    const since =
      this.#failingSince?.failure === failure ? this.#failingSince.since : this.#options.clock.now();
    this.#failingSince = { description: failing, failure, since };
    this.#scheduleRestart();
  }

  #scheduleRestart(): void {
    if (this.#stopped) return;
    this.#cancelRestart();
    const delay = this.#delayMs;
    this.#delayMs = Math.min(this.#delayMs * 2, this.#backoff.maxMs);
    this.#cancelRestart = this.#options.clock.after(delay, () => {
      void this.start();
    });
  }
}
