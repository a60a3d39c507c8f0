// Secrets never reach a log line or an error message: known secrets are masked by value,
// and anything shaped like a webhook code, an OAuth token or URL credentials is masked by form.

const WEBHOOK_PATH = /(\/rest\/\d+\/)[^/\s"'?]+/g;
const TOKEN_PARAM = /((?:access_token|refresh_token|client_secret|auth|code)=)[^&\s"']+/gi;
const TOKEN_JSON = /("(?:access_token|refresh_token|client_secret|clientSecret|auth)"\s*:\s*")[^"]*/gi;
const URL_CREDENTIALS = /(\b[a-z][a-z0-9+.-]*:\/\/)[^/\s@"']+@/gi;

export function redact(text: string, secrets: readonly string[] = []): string {
  let out = text;
  for (const s of secrets) {
    if (s) out = out.split(s).join('***');
  }
  return out.replace(WEBHOOK_PATH, '$1***').replace(TOKEN_PARAM, '$1***').replace(TOKEN_JSON, '$1***').replace(URL_CREDENTIALS, '$1***@');
}
