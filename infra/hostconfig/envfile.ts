// The host's settings file (`host.env`) and the `/etc/default/*` files of the Java services: shell
// assignments, single-quoted so no value is ever expanded when a script or an init script reads it.

export type EnvVars = Readonly<Record<string, string | number | boolean | undefined>>;

const NAME = /^[A-Z_][A-Z0-9_]*$/;

function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Renders `NAME='value'` lines; `undefined` values are left out. */
export function renderEnvFile(vars: EnvVars, header?: string): string {
  const lines = Object.entries(vars).flatMap(([name, value]) => {
    if (!NAME.test(name)) {
      throw new Error(`environment variable name must match ${NAME}, got: ${JSON.stringify(name)}`);
    }
    if (value === undefined) return [];
    const text = String(value);
    if (/[\r\n\0]/.test(text)) {
      throw new Error(`value of ${name} must be one line, got: ${JSON.stringify(text)}`);
    }
    return [`${name}=${shellQuote(text)}`];
  });
  return `${header ? `# ${header}\n` : ""}${lines.join("\n")}\n`;
}
