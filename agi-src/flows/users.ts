// Extension → Bitrix24 user, as every step needs it: the cache while fresh, else user.get, whose
// answer (a user or none) is cached in turn. Throws what the client throws.
import { userByExtensionRequest, userIdFrom } from './requests';
import type { Services } from './services';

export async function userOfExtension(s: Services, extension: string, deadline: number): Promise<number | null> {
  const { caches } = await s.stores();
  const cached = await caches.user(extension, s.now(), s.config.userCacheSeconds * 1000);
  if (cached) return cached.userId;
  const req = userByExtensionRequest(extension);
  const userId = userIdFrom(await (await s.client()).call(req.method, req.params, deadline));
  await caches.putUser(extension, userId, s.now());
  return userId;
}
