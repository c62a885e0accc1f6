// Holding back a stand-in's answer after it has done what the request asked: a test can then kill
// the client while the server's state has changed but the client never learned how (a Deployment
// created, its id never read).

export interface HoldMatch {
  method: string;
  path: RegExp;
}

export interface Hold {
  /** Resolves once a matching request was applied and its answer is being held. */
  reached: Promise<void>;
  /** Sends the held answer (to a client that may be gone). */
  release(): void;
}

interface Pending {
  match: HoldMatch;
  reached: () => void;
  released: Promise<void>;
  release: () => void;
}

export class Holds {
  private readonly waiting: Pending[] = [];
  private readonly taken: Pending[] = [];

  /** Holds the answer to the next request that matches (one request, once). */
  hold(match: HoldMatch): Hold {
    let reached!: () => void;
    let release!: () => void;
    const reachedP = new Promise<void>((resolve) => (reached = resolve));
    const released = new Promise<void>((resolve) => (release = resolve));
    this.waiting.push({ match, reached, released, release });
    return { reached: reachedP, release };
  }

  /** The hold this request takes, if one matches: awaiting it holds the answer until released. */
  take(method: string, path: string): (() => Promise<void>) | undefined {
    const i = this.waiting.findIndex((p) => p.match.method.toUpperCase() === method && p.match.path.test(path));
    if (i < 0) return undefined;
    const [pending] = this.waiting.splice(i, 1) as [Pending];
    this.taken.push(pending);
    return () => {
      pending.reached();
      return pending.released;
    };
  }

  /** Lets every held answer go (the stand-in is stopping). */
  releaseAll(): void {
    for (const p of [...this.waiting, ...this.taken]) p.release();
  }
}
