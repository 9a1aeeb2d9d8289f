/**
 * The SQL editor: CodeMirror 6 with SQL highlighting and completion of dataset tables and their top-level fields
 * (given by the caller from the catalog). Ctrl/Cmd-Enter runs.
 */
import { sql, PostgreSQL } from '@codemirror/lang-sql';
import { keymap } from '@codemirror/view';
import { basicSetup, EditorView } from 'codemirror';
import { useEffect, useRef } from 'react';

export function SqlEditor({ value, onChange, onRun, schema }: { value: string; onChange: (text: string) => void; onRun: () => void; schema: Record<string, string[]> }) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const handlers = useRef({ onChange, onRun });
  handlers.current = { onChange, onRun };
  useEffect(() => {
    view.current = new EditorView({
      parent: host.current!,
      doc: value,
      extensions: [
        keymap.of([{ key: 'Mod-Enter', run: () => (handlers.current.onRun(), true) }]),
        basicSetup,
        sql({ dialect: PostgreSQL, schema, upperCaseKeywords: true }),
        EditorView.updateListener.of((update) => update.docChanged && handlers.current.onChange(update.state.doc.toString())),
        EditorView.contentAttributes.of({ 'aria-label': 'SQL editor' }),
      ],
    });
    return () => view.current?.destroy();
    // The editor is created once per schema; later `value` changes come from typing in it.
  }, [JSON.stringify(schema)]);
  useEffect(() => {
    const current = view.current;
    if (current && current.state.doc.toString() !== value) current.dispatch({ changes: { from: 0, to: current.state.doc.length, insert: value } });
  }, [value]);
  return <div ref={host} className="sql-editor" />;
}
