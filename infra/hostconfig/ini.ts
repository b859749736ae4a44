// INI renderer for puppet.conf, puppetdb.conf and systemd units. The `ini` package escapes `;`
// and `#` with backslashes and quotes values that start with `[` or `=`, none of which Puppet's
// parser undoes, so values are written verbatim here and anything Puppet would misread is refused.

export type IniValue = string | number | boolean | readonly string[];

/** Ordered sections of ordered `key = value` settings. */
export type IniDocument = ReadonlyArray<readonly [section: string, settings: IniSettings]>;
export type IniSettings = Readonly<Record<string, IniValue | undefined>>;

const KEY = /^[A-Za-z0-9_.-]+$/;
const SECTION = /^[A-Za-z0-9_.-]+$/;

function renderValue(key: string, value: IniValue): string {
  // Puppet reads list settings (server_list, dns_alt_names, server_urls) as comma-separated.
  const text = Array.isArray(value) ? value.join(",") : String(value);
  if (/[\r\n]/.test(text)) {
    throw new Error(`INI value of ${key} contains a line break, got: ${JSON.stringify(text)}`);
  }
  if (text !== text.trim()) {
    throw new Error(
      `INI value of ${key} has leading or trailing whitespace, which Puppet strips, got: ${JSON.stringify(text)}`,
    );
  }
  return text;
}

/** Renders an INI document; `undefined` settings are left out so callers can write optional ones inline. */
export function renderIni(doc: IniDocument): string {
  const blocks = doc.map(([section, settings]) => {
    if (!SECTION.test(section)) {
      throw new Error(`INI section name must match ${SECTION}, got: ${JSON.stringify(section)}`);
    }
    const lines = Object.entries(settings).flatMap(([key, value]) => {
      if (!KEY.test(key)) {
        throw new Error(`INI key must match ${KEY}, got: ${JSON.stringify(key)}`);
      }
      return value === undefined ? [] : [`${key} = ${renderValue(key, value)}`];
    });
    return [`[${section}]`, ...lines].join("\n");
  });
  return `${blocks.join("\n\n")}\n`;
}
