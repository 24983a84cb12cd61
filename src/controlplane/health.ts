// Control-plane mode's eligibility (docs/design.md, the election): this node may hold the API server's VIP
// only while its own kube-apiserver answers its health check. A node whose API server stops
// answering gives the VIP up (rule 5), so clients are never sent to a node that cannot serve them.
import { request as httpRequest } from "node:http";
import { request as httpsRequest, type RequestOptions } from "node:https";
import type { KubeConfig } from "@kubernetes/client-node";
import type { Eligibility } from "../agent/eligibility.ts";
import type { Cancel, Clock } from "../clock/clock.ts";

/** One health check: null when the API server answered healthy, else what went wrong. */
export type HealthCheck = (timeoutMs: number) => Promise<string | null>;

/**
 * The pure part, as kubelet's probes do it: one success makes the API server healthy, and it stays
 * so until failureThreshold checks in a row fail, so one slow answer does not move the VIP. Until
 * the first success it is unhealthy: a node must not take the VIP before its API server serves.
 */
export class HealthThreshold {
  readonly #failureThreshold: number;
  #failuresInRow = 0;
  #state: Eligibility = {
    eligible: false,
    code: "api-server-unchecked",
    reason: "the local API server has not been checked yet",
  };

  constructor(failureThreshold: number) {
    this.#failureThreshold = failureThreshold;
  }

  get state(): Eligibility {
    return this.#state;
  }

  /** Records one check's outcome; says whether eligibility changed. */
  record(problem: string | null): boolean {
    const before = this.#state.eligible;
    if (problem === null) {
      this.#failuresInRow = 0;
      this.#state = { eligible: true };
    } else {
      this.#failuresInRow += 1;
      if (!before || this.#failuresInRow >= this.#failureThreshold) {
        this.#state = {
          eligible: false,
          code: "api-server-unhealthy",
          reason: `the local API server failed ${this.#failuresInRow} health check(s) in a row: ${problem}`,
        };
      }
    }
    return this.#state.eligible !== before;
  }
}

export interface ApiServerHealthOptions {
  readonly check: HealthCheck;
  readonly periodMs: number;
  readonly failureThreshold: number;
  /** Spaces the checks. */
  readonly clock: Clock;
  /** Called when the API server becomes healthy or stops being so. */
  readonly onChange: (state: Eligibility) => void;
}

/** Runs the check every period (each bounded by the period), one at a time. */
export class ApiServerHealth {
  readonly #options: ApiServerHealthOptions;
  readonly #threshold: HealthThreshold;
  #cancelNext: Cancel = () => undefined;
  #running = false;

  constructor(options: ApiServerHealthOptions) {
    this.#options = options;
    this.#threshold = new HealthThreshold(options.failureThreshold);
  }

  state(): Eligibility {
    return this.#threshold.state;
  }

  /** Resolves after the first check, so that start-up knows whether this node may hold the VIP. */
  async start(): Promise<void> {
    this.#running = true;
    await this.#checkOnce();
  }

  stop(): void {
    this.#running = false;
    this.#cancelNext();
  }

  async #checkOnce(): Promise<void> {
    const { clock } = this.#options;
    const started = clock.now();
    const problem = await this.#options
      .check(this.#options.periodMs)
      .catch((error: unknown) => (error instanceof Error ? error.message : String(error)));
    if (!this.#running) return;
    if (this.#threshold.record(problem)) this.#options.onChange(this.#threshold.state);
    this.#cancelNext = clock.after(
      this.#options.periodMs - (clock.now() - started),
      () => void this.#checkOnce(),
    );
  }
}

/**
 * A GET of the health URL (https, or http for an API server's insecure test port) with the kubeconfig's TLS settings and credentials: its CA, its client
 * certificate or token, and its tls-server-name, since a kubeadm serving certificate names
 * "kubernetes" and the node's addresses but not 127.0.0.1. Anything but 200 is a failure, and so is
 * no whole answer within the timeout (a deadline for the check, not for each silence on its socket,
 * so that an API server trickling its answer cannot stretch a check past its period).
 */
export function httpsHealthCheck(options: {
  readonly url: URL;
  readonly kubeConfig: KubeConfig;
  readonly clock: Clock;
}): HealthCheck {
  return async (timeoutMs) => {
    const requestOptions: RequestOptions = {};
    await options.kubeConfig.applyToHTTPSOptions(requestOptions);
    // A fresh connection per check: a kept-alive one could outlive the listener it measures.
    return new Promise((resolve) => {
      const request = options.url.protocol === "http:" ? httpRequest : httpsRequest;
      const req = request(options.url, { ...requestOptions, agent: false }, (response) => {
        let body = "";
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => {
          if (body.length < 200) body += chunk;
        });
        response.on("end", () => {
          settle(response.statusCode === 200 ? null : `HTTP ${response.statusCode}: ${body.trim()}`);
        });
        response.on("error", (error) => {
          settle(error.message);
        });
      });
      const cancelDeadline = options.clock.after(timeoutMs, () => {
        settle(`no answer within ${timeoutMs}ms`);
        req.destroy();
      });
      const settle = (problem: string | null) => {
        cancelDeadline();
        resolve(problem);
      };
      req.on("error", (error) => {
        settle(error.message);
      });
      req.end();
    });
  };
}
