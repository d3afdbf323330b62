// Markdown from notebooks and comments, rendered and sanitized in one place. Besides scripts
// (DOMPurify's defaults), a cell or a comment may not restyle the page for everyone (<style>,
// <link>) nor plant a form that posts somewhere else (<form>, action/formaction).

import DOMPurify from "dompurify";
import { marked } from "marked";

const CONFIG = {
  FORBID_TAGS: ["style", "link", "form", "input", "button", "textarea", "select", "meta", "base"],
  FORBID_ATTR: ["action", "formaction", "style"],
};

export function sanitize(html: string): string {
  return DOMPurify.sanitize(html, CONFIG) as string;
}

export function renderMarkdown(source: string): string {
  return sanitize(marked.parse(source, { async: false }) as string);
}
