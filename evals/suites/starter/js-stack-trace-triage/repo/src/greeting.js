// The greeting at the top of the dashboard.

export function greeting(user) {
  const first = user.name.split(" ")[0];
  return `Welcome back, ${first}!`;
}
