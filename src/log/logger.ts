// Structured logs: one line per decision, JSON for machines by default, text for people. Fields name
// the Service, node and reason so a line can be found and read without context.
import winston from "winston";

export type LogFields = Readonly<Record<string, unknown>>;

export interface Logger {
  error(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  debug(message: string, fields?: LogFields): void;
}

export interface LoggerOptions {
  readonly level: "error" | "warn" | "info" | "debug";
  readonly format: "json" | "text";
  readonly node: string;
}

export function createLogger(options: LoggerOptions): Logger {
  const { combine, timestamp, json, printf } = winston.format;
  const text = printf(({ timestamp: time, level, message, ...fields }) => {
    const rest = Object.entries(fields)
      .map(([key, value]) => `${key}=${typeof value === "string" ? value : JSON.stringify(value)}`)
      .join(" ");
    return `${String(time)} ${level.toUpperCase().padEnd(5)} ${String(message)}${rest === "" ? "" : ` ${rest}`}`;
  });
  return winston.createLogger({
    level: options.level,
    defaultMeta: { node: options.node },
    format: combine(timestamp(), options.format === "json" ? json() : text),
    transports: [new winston.transports.Console({ stderrLevels: ["error", "warn", "info", "debug"] })],
  });
}
