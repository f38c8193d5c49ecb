/**
 * The numbers in a doc's prose, outside its generated blocks: what test/bench/report.test.ts checks
 * against the list of settings. Code (fenced or inline), link targets and HTML comments are not prose.
 */
export interface ProseNumber {
  /** The number with the word after it, e.g. "60 s", "10-minute", "10/4". */
  token: string;
  line: number;
}

const GENERATED = /<!-- generated:\S+ from [^>]*? -->\n[\s\S]*?<!-- \/generated -->/g;

/** Blanks out what is not prose, keeping line numbers. */
export function proseOnly(markdown: string): string {
  const blank = (m: string) => m.replace(/[^\n]/g, ' ');
  return markdown
    .replace(GENERATED, blank)
    .replace(/^```[\s\S]*?^```/gm, blank)
    .replace(/<!--[\s\S]*?-->/g, blank)
    .replace(/`[^`\n]*`/g, blank)
    .replace(/\]\([^)\n]*\)/g, (m) => `]${blank(m.slice(1))}`);
}

/**
 * A number (digits, with `,` `.` `/` `–` `×` joining more digits) and its unit when one follows,
 * joined by a hyphen ("5-minute") or a space ("60 s").
 */
const NUMBER =
  /(?<![\w.])(?:\d[\d,.]*\d|\d)(?:\s?[/–×]\s?(?:\d[\d,.]*\d|\d))*(?: ?%|[- ](?:ms|s|MB|MiB|KiB|KB|GB|minutes?|hours?|core|slot|row|byte)\b)?/g;

export function proseNumbers(markdown: string): ProseNumber[] {
  const out: ProseNumber[] = [];
  proseOnly(markdown)
    .split('\n')
    .forEach((text, i) => {
      for (const match of text.matchAll(NUMBER)) out.push({ token: match[0], line: i + 1 });
    });
  return out;
}
