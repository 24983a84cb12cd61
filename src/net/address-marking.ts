// The spellings of --address-marking, apart from the code behind them so that the configuration
// schema can name them without loading the data path (see address-ownership.ts).
export const ADDRESS_MARKINGS = ["auto", "kernel", "record"] as const;
export type AddressMarking = (typeof ADDRESS_MARKINGS)[number];
