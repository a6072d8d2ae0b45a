/**
 * The three Reflect metadata functions tsyringe (a dependency of @peculiar/x509) looks for when it loads, and all it
 * uses: `@injectable()` on @peculiar/x509's algorithm classes. Defined only where missing; imported by x509.ts before
 * @peculiar/x509 (an ES module's imports are evaluated in order).
 */
type Metadata = Map<unknown, unknown>;
interface ReflectMetadata {
  defineMetadata?(key: unknown, value: unknown, target: object): void;
  getOwnMetadata?(key: unknown, target: object): unknown;
  getMetadata?(key: unknown, target: object): unknown;
}

const tables = new WeakMap<object, Metadata>();
const reflect = Reflect as typeof Reflect & ReflectMetadata;

if (typeof reflect.getMetadata !== 'function') {
  reflect.defineMetadata = (key, value, target) => {
    let table = tables.get(target);
    if (!table) tables.set(target, (table = new Map()));
    table.set(key, value);
  };
  reflect.getOwnMetadata = (key, target) => tables.get(target)?.get(key);
  reflect.getMetadata = (key, target) => {
    for (let o: object | null = target; o !== null; o = Object.getPrototypeOf(o) as object | null) {
      const table = tables.get(o);
      if (table?.has(key)) return table.get(key);
    }
    return undefined;
  };
}

export {};
