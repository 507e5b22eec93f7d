// The part of logic-solver's API (MiniSat compiled to JavaScript) that the resolver uses.
declare module "logic-solver" {
  type Term = string;
  export interface Formula {
    readonly __formula?: true;
  }
  export type Operand = Term | Formula;
  interface Solution {
    getTrueVars(): string[];
    evaluate(f: Operand): boolean;
  }
  class Solver {
    require(...args: (Operand | Operand[])[]): void;
    forbid(...args: (Operand | Operand[])[]): void;
    solve(): Solution | null;
    solveAssuming(assumption: Operand): Solution | null;
  }
  const Logic: {
    Solver: typeof Solver;
    TRUE: Term;
    FALSE: Term;
    not(o: Operand): Operand;
    or(...o: (Operand | Operand[])[]): Operand;
    and(...o: (Operand | Operand[])[]): Operand;
    implies(a: Operand, b: Operand): Formula;
    atMostOne(...o: (Operand | Operand[])[]): Formula;
    exactlyOne(...o: (Operand | Operand[])[]): Formula;
  };
  export default Logic;
}
