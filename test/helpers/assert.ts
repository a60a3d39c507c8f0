import { expect } from 'chai';

/** Awaits a promise that must reject with an instance of `type`; returns the error. */
export async function rejects<E extends Error>(p: Promise<unknown>, type: new (...args: never[]) => E): Promise<E> {
  try {
    await p;
  } catch (err) {
    expect(err).to.be.instanceOf(type);
    return err as E;
  }
  throw new Error(`expected a ${type.name}, but the promise resolved`);
}
