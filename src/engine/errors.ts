import { TaskmoeError } from '../gpu/errors';

/** The requested target language is not one the model translates into. */
export class UnknownLanguageError extends TaskmoeError {
  readonly language: string;
  readonly available: readonly string[];
  constructor(language: string, available: readonly string[]) {
    super('unknown-language', `Unknown target language "${language}". Available: ${available.join(', ')}.`);
    this.language = language;
    this.available = available;
  }
}
