// The console's SPARQL editor: CodeMirror 6 with the SPARQL mode, history, bracket matching,
// search, and completion of prefixed names from a list the console fills from the store.
import {EditorView, basicSetup} from "codemirror";
import {keymap} from "@codemirror/view";
import {StreamLanguage} from "@codemirror/language";
import {sparql} from "@codemirror/legacy-modes/mode/sparql";
import {autocompletion} from "@codemirror/autocomplete";

let words = [];

function complete(ctx) {
  const w = ctx.matchBefore(/[\w:<>#\/.-]+/);
  if (!w || (w.from === w.to && !ctx.explicit)) return null;
  return {from: w.from, options: words, validFor: /^[\w:<>#\/.-]*$/};
}

window.ShopgraphEditor = {
  create(parent, doc, onRun) {
    const view = new EditorView({
      doc,
      parent,
      extensions: [
        basicSetup,
        StreamLanguage.define(sparql),
        autocompletion({override: [complete]}),
        keymap.of([{key: "Mod-Enter", run: () => { onRun(); return true; }}]),
        EditorView.contentAttributes.of({"aria-label": "SPARQL query"}),
      ],
    });
    return {
      get value() { return view.state.doc.toString(); },
      set value(v) { view.dispatch({changes: {from: 0, to: view.state.doc.length, insert: v}}); },
    };
  },
  setWords(list) { words = list; },
};
