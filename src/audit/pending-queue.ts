/**
 * A first-in first-out queue for requests awaiting the server's answer. Answers come in
 * order, so the head is always the request being answered; a pipelining client can have
 * thousands queued, hence an index instead of Array.shift (which moves every element).
 */
export class PendingQueue<T> {
  #items: Array<T | undefined> = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(item: T): void {
    this.#items.push(item);
  }

  /** The item `offset` places behind the head (0: the head). */
  peek(offset = 0): T | undefined {
    return this.#items[this.#head + offset];
  }

  shift(): T | undefined {
    const item = this.#items[this.#head];
    if (item === undefined) return undefined;
    this.#items[this.#head++] = undefined;
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    } else if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  /** Removes the item `offset` places behind the head. */
  removeAt(offset: number): void {
    if (offset > 0 && offset < this.length) this.#items.splice(this.#head + offset, 1);
  }
}
