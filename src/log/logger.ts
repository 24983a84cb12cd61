// Structured logs: one line per decision, JSON for machines by default, text for people. Fields name
// the Service, node and reason so a line can be found and read without context. The message and
// each text field are cut at about 1 kB (cut-text.ts), as Events are.
import winston from "winston";
import { cutText } from "./cut-text.ts";

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

// Winston keeps the level and the formatted line under symbols, which Object.keys leaves out.
export const cutLongTexts = winston.format((info) => {
  for (const key of Object.keys(info)) {
    const value = info[key];
    if (typeof value === "string") info[key] = cutText(value);
  }
  return info;
});

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
    format: combine(cutLongTexts(), timestamp(), options.format === "json" ? json() : text),
    transports: [new winston.transports.Console({ stderrLevels: ["error", "warn", "info", "debug"] })],
  });
}
