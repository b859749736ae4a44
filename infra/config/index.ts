// The stack's settings: their types and defaults, the raw-value reader, the rules, and the loader.
export { loadSettings } from "./load";
export { parseSettings } from "./parse";
export { ConfigError } from "./reader";
export * from "./types";
