// Minimal types for dynalite (the embedded pure-JS DynamoDB used where Java is missing).
declare module 'dynalite' {
  import type { Server } from 'node:http';
  interface DynaliteOptions {
    createTableMs?: number;
    deleteTableMs?: number;
    updateTableMs?: number;
    path?: string;
  }
  function dynalite(opts?: DynaliteOptions): Server;
  export default dynalite;
}
