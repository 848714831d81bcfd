/**
 * Just enough XML to rewrite a few values in moto's Query-protocol answers while leaving every
 * other byte as moto wrote it (so nothing the SDK or the CLI parses can be lost in a round trip).
 * moto's answers have no comments, CDATA or processing instructions past the declaration.
 */

export interface ElementSpan {
  name: string;
  /** Offset of `<name`. */
  start: number;
  /** Offset just after the opening tag. */
  contentStart: number;
  /** Offset of the closing tag (equals contentStart for `<name/>`). */
  contentEnd: number;
  /** Offset just after the closing tag. */
  end: number;
}

export interface Edit {
  start: number;
  end: number;
  text: string;
}

const TAG = /<(\/?)([A-Za-z_][\w:.-]*)[^>]*?(\/?)>/g;

/** The elements directly inside [from, to) of the document. */
export function childElements(xml: string, from: number, to: number): ElementSpan[] {
  const children: ElementSpan[] = [];
  const tags = new RegExp(TAG.source, "g");
  tags.lastIndex = from;
  let depth = 0;
  let open: { name: string; start: number; contentStart: number } | undefined;
  for (let match = tags.exec(xml); match && match.index < to; match = tags.exec(xml)) {
    const [whole, closing, name = "", selfClosing] = match;
    const end = match.index + whole.length;
    if (closing) {
      depth--;
      if (depth === 0 && open) {
        children.push({
          name: open.name,
          start: open.start,
          contentStart: open.contentStart,
          contentEnd: match.index,
          end,
        });
        open = undefined;
      }
    } else if (selfClosing) {
      if (depth === 0) children.push({ name, start: match.index, contentStart: end, contentEnd: end, end });
    } else {
      if (depth === 0) open = { name, start: match.index, contentStart: end };
      depth++;
    }
  }
  return children;
}

export function children(xml: string, parent: ElementSpan, name?: string): ElementSpan[] {
  const all = childElements(xml, parent.contentStart, parent.contentEnd);
  return name === undefined ? all : all.filter((child) => child.name === name);
}

export function child(xml: string, parent: ElementSpan, name: string): ElementSpan | undefined {
  return children(xml, parent, name)[0];
}

/** The element reached from the document root through the given names. */
export function elementAt(xml: string, path: string[]): ElementSpan | undefined {
  let current: ElementSpan | undefined = {
    name: "",
    start: 0,
    contentStart: 0,
    contentEnd: xml.length,
    end: xml.length,
  };
  for (const name of path) {
    if (!current) return undefined;
    current = child(xml, current, name);
  }
  return current;
}

const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

export function textOf(xml: string, element: ElementSpan | undefined): string | undefined {
  if (!element) return undefined;
  return xml
    .slice(element.contentStart, element.contentEnd)
    .replace(/&(#x?[0-9a-fA-F]+|\w+);/g, (entity, body: string) => {
      if (body.startsWith("#x")) return String.fromCodePoint(Number.parseInt(body.slice(2), 16));
      if (body.startsWith("#")) return String.fromCodePoint(Number.parseInt(body.slice(1), 10));
      return ENTITIES[body] ?? entity;
    });
}

/** Replaces the content of an element (its tags stay). */
export function replaceContent(element: ElementSpan, innerXml: string): Edit {
  return { start: element.contentStart, end: element.contentEnd, text: innerXml };
}

/** Replaces a whole element, tags included. */
export function replaceElement(element: ElementSpan, xml: string): Edit {
  return { start: element.start, end: element.end, text: xml };
}

export function applyEdits(xml: string, edits: Edit[]): string {
  let result = xml;
  for (const edit of [...edits].sort((a, b) => b.start - a.start)) {
    result = result.slice(0, edit.start) + edit.text + result.slice(edit.end);
  }
  return result;
}
