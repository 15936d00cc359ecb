// @ts-check
// tributary/durable: Web Locks and the page's lifecycle events (see durable.js).

/** Without Web Locks, a page writes its heartbeat this often. */
export const HEARTBEAT_MS = 15_000;

/**
 * Takes the lock `name` and holds it until the returned function is called (or the page
 * goes away: the browser releases it then, crash included).
 * @param {LockManager} locks
 * @param {string} name
 * @returns {Promise<() => void>}
 */
export function holdLock(locks, name) {
  return new Promise((granted, failed) => {
    /** @type {() => void} */
    let release = () => {};
    const held = new Promise((r) => { release = () => r(undefined); });
    locks.request(name, () => { granted(release); return held; }).catch(failed);
  });
}

/**
 * Runs `f` holding the lock `name` if nobody holds it (`ifAvailable`), until `f`'s promise
 * settles; resolves once `f` started (or the lock was taken by another page).
 * @param {LockManager} locks
 * @param {string} name
 * @param {() => Promise<unknown>} f
 * @param {(e: any) => void} failed
 * @returns {Promise<void>}
 */
export function whileLocked(locks, name, f, failed) {
  return new Promise((started) => {
    locks.request(name, { ifAvailable: true }, (lock) => {
      started();
      return lock ? f() : undefined;
    }).catch((e) => { started(); failed(e); });
  });
}

/**
 * Follows `win`'s events: `offline`, `online`, `pagehide` (with `persisted`), `pageshow`
 * from the back/forward cache, and the document becoming `hidden` or `visible`. There is
 * no `unload` handler (it would keep the page out of the back/forward cache). Returns
 * what `unlisten` removes.
 * @param {any} win
 * @param {{ offline: () => void, online: () => void, pagehide: (persisted: boolean) => void,
 *   pageshow: () => void, hidden: () => void, visible: () => void }} on
 * @returns {[EventTarget, string, (e: any) => void][]}
 */
export function listen(win, on) {
  if (typeof win?.addEventListener !== "function") return [];
  const doc = win.document;
  /** @type {[EventTarget, string, (e: any) => void][]} */
  const handlers = [
    [win, "offline", () => on.offline()],
    [win, "online", () => on.online()],
    [win, "pagehide", (e) => on.pagehide(e?.persisted === true)],
    [win, "pageshow", (e) => { if (e?.persisted) on.pageshow(); }],
  ];
  if (doc) {
    handlers.push([doc, "visibilitychange", () => {
      if (doc.visibilityState === "hidden") on.hidden();
      else on.visible();
    }]);
  }
  for (const [target, type, f] of handlers) target.addEventListener(type, f);
  return handlers;
}

/**
 * Removes what `listen` added.
 * @param {[EventTarget, string, (e: any) => void][] | undefined} handlers
 */
export function unlisten(handlers) {
  for (const [target, type, f] of handlers ?? []) target.removeEventListener(type, f);
}
