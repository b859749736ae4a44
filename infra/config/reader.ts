// Reading typed values out of raw configuration, one level at a time. Every value is read by name
// exactly once, where it is parsed; the reader remembers those names, so the keys a level allows are
// the keys its parser reads and a misspelt key fails instead of silently falling back to a default.

/** A configuration value that is not allowed: names the key, the value and what is allowed. */
export class ConfigError extends Error {
  constructor(
    readonly key: string,
    readonly value: unknown,
    readonly allowed: string,
  ) {
    super(`config ${key}: got ${describe(value)}; ${allowed}`);
    this.name = "ConfigError";
  }
}

function describe(value: unknown): string {
  if (value === undefined) return "nothing (the key is not set)";
  return JSON.stringify(value);
}

/** A rule on a string value: why it is not allowed, or undefined when it is. */
export type Check = (value: string) => string | undefined;

/** Reads typed values from one level of raw config, naming every bad key with its full path. */
export class Reader {
  private readonly raw: Record<string, unknown>;
  private readonly read: string[] = [];

  /** `expected` says what this level must be when it is not an object. */
  constructor(
    raw: unknown,
    private readonly prefix = "",
    expected = "expected an object",
  ) {
    const value = typeof raw === "string" ? parseJson(raw) : raw;
    if (
      value !== undefined &&
      (value === null || typeof value !== "object" || Array.isArray(value))
    ) {
      throw new ConfigError(prefix, raw, expected);
    }
    this.raw = (value ?? {}) as Record<string, unknown>;
  }

  key(name: string): string {
    return this.prefix ? `${this.prefix}.${name}` : name;
  }

  value(name: string): unknown {
    if (!this.read.includes(name)) this.read.push(name);
    return this.raw[name];
  }

  /** The keys present, in their order. */
  keys(): string[] {
    return Object.keys(this.raw);
  }

  /**
   * Reads a nested object (absent: empty) with `read`, then fails on any key of it that `read` did
   * not ask for. `expected` says what the value must be when it is not an object.
   */
  section<T>(name: string, read: (section: Reader) => T, expected?: string): T {
    const nested = new Reader(this.value(name), this.key(name), expected);
    const value = read(nested);
    nested.done();
    return value;
  }

  /** Fails on the first key present that nothing read: the keys of this level are the ones read. */
  done(): void {
    const unknown = Object.keys(this.raw).find((k) => !this.read.includes(k));
    if (unknown !== undefined) {
      const level = this.prefix ? `the keys of ${this.prefix} are` : "the keys are";
      // The value is not shown: it may be a secret set under a misspelt name.
      throw new ConfigError(
        this.key(unknown),
        "(set)",
        `unknown key; ${level}: ${this.read.join(", ")}`,
      );
    }
  }

  string(name: string, fallback: string | undefined, check: Check): string {
    const value = this.value(name) ?? fallback;
    if (typeof value !== "string" || value === "") {
      throw new ConfigError(
        this.key(name),
        value,
        fallback === undefined ? "a value is required" : "expected a string",
      );
    }
    const problem = check(value);
    if (problem) throw new ConfigError(this.key(name), value, problem);
    return value;
  }

  optionalString(name: string, check: Check): string | undefined {
    return this.value(name) === undefined ? undefined : this.string(name, undefined, check);
  }

  integer(name: string, fallback: number, min: number, max: number): number {
    const raw = this.value(name) ?? fallback;
    const value = typeof raw === "string" && /^-?\d+$/.test(raw) ? Number(raw) : raw;
    if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
      throw new ConfigError(this.key(name), raw, `expected a whole number from ${min} to ${max}`);
    }
    return value;
  }

  boolean(name: string, fallback: boolean): boolean {
    const raw = this.value(name) ?? fallback;
    if (raw === true || raw === "true") return true;
    if (raw === false || raw === "false") return false;
    throw new ConfigError(this.key(name), raw, "expected true or false");
  }

  optionalBoolean(name: string): boolean | undefined {
    return this.value(name) === undefined ? undefined : this.boolean(name, false);
  }

  list(name: string, item: (value: string, key: string) => string): string[] {
    const given = this.value(name) ?? [];
    // A top-level list arrives as the JSON text Pulumi stores it as.
    const raw = typeof given === "string" ? parseJson(given) : given;
    if (!Array.isArray(raw)) {
      throw new ConfigError(this.key(name), raw, "expected a list");
    }
    return raw.map((v, i) => {
      const key = `${this.key(name)}[${i}]`;
      if (typeof v !== "string") throw new ConfigError(key, v, "expected a string");
      return item(v, key);
    });
  }
}

/** Pulumi hands structured values over as JSON text; anything else stays the string it is. */
function parseJson(text: string): unknown {
  if (!/^\s*[[{]/.test(text)) return text;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
