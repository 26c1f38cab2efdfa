export * from './transactions.js'
