// The CPU side of greedy decoding, shared by the WebGPU search (model/search.ts) and the WASM engine
// (engine/ort-model.ts): each sentence's ids so far and which sentences have emitted </s>.

/** Output ids (without </s>) of B sentences decoded greedily, one step at a time. */
export class GreedyState {
  /** ids per sentence so far; handed to onStep callbacks and returned at the end. */
  readonly out: number[][];
  private readonly done: boolean[];
  private readonly eosId: number;

  constructor(B: number, eosId: number) {
    this.out = Array.from({ length: B }, () => []);
    this.done = new Array<boolean>(B).fill(false);
    this.eosId = eosId;
  }

  /** Takes one step's argmax ids (one per sentence); returns whether every sentence has now ended. */
  advance(ids: ArrayLike<number>): boolean {
    for (let b = 0; b < this.out.length; b++) {
      if (this.done[b]) continue;
      const id = ids[b] as number;
      if (id === this.eosId) this.done[b] = true;
      else (this.out[b] as number[]).push(id);
    }
    return this.done.every(Boolean);
  }
}
