// The user directory, from the JSON the accounts service sends.

export function parseUsers(payload) {
  const users = new Map();
  for (const raw of payload.users) {
    users.set(raw.id, { id: raw.id, name: raw.display_name });
  }
  return users;
}
