// Puppet Server and PuppetDB read HOCON, a superset of JSON: writing JSON keeps one well-defined
// syntax with a real serializer, and no HOCON substitution can sneak in through a value.

export type HoconValue = string | number | boolean | readonly HoconValue[] | HoconObject;
export interface HoconObject {
  readonly [key: string]: HoconValue;
}

export function renderHocon(value: HoconObject): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}
