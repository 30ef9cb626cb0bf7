// A unified diff, coloured by line.
export function DiffView({ diff }: { diff: string }) {
  const lines = diff.split("\n");
  // createTwoFilesPatch starts with "Index:" and "===" lines that say nothing here.
  const shown = lines.filter((l) => !l.startsWith("Index: ") && !/^=+$/.test(l));
  return (
    <pre className="diff" data-testid="diff">
      {shown.map((l, i) => (
        <span
          key={i}
          className={l.startsWith("+++") || l.startsWith("---") ? "file" : l.startsWith("@@") ? "hunk" : l.startsWith("+") ? "add" : l.startsWith("-") ? "del" : undefined}
        >
          {l}
          {"\n"}
        </span>
      ))}
    </pre>
  );
}
