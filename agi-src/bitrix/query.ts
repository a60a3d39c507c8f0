// PHP-style bracket query strings, as batch `cmd` entries are written:
// {FILTER: {UF_PHONE_INNER: "101"}} → FILTER[UF_PHONE_INNER]=101

export type Params = Record<string, unknown>;

export function toQuery(params: Params): string {
  const parts: string[] = [];
  const walk = (prefix: string, value: unknown) => {
    if (value === undefined) return;
    if (value === null) {
      parts.push(`${prefix}=`);
    } else if (Array.isArray(value)) {
      value.forEach((v, i) => walk(`${prefix}[${i}]`, v));
    } else if (typeof value === 'object') {
      for (const [k, v] of Object.entries(value as Params)) walk(`${prefix}[${k}]`, v);
    } else if (typeof value === 'boolean') {
      parts.push(`${prefix}=${value ? 1 : 0}`);
    } else {
      parts.push(`${prefix}=${encodeURIComponent(String(value))}`);
    }
  };
  for (const [k, v] of Object.entries(params)) walk(encodeURIComponent(k), v);
  return parts.join('&');
}

export function batchCommand(method: string, params: Params): string {
  const q = toQuery(params);
  return q ? `${method}?${q}` : method;
}
