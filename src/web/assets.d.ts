// esbuild's `file` loader: importing a .json asset gives its hashed URL under /ui/.
declare module '*.json' {
  const url: string;
  export default url;
}
