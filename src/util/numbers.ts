/** Round to three decimals (milliseconds to the microsecond): what every stored duration carries. */
export const round3 = (n: number) => Math.round(n * 1000) / 1000;
