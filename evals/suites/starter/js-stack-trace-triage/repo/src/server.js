import { greeting } from "./greeting.js";
import { parseUsers } from "./users.js";

export function dashboard(payload, userId) {
  const users = parseUsers(payload);
  return { title: greeting(users.get(userId)) };
}
