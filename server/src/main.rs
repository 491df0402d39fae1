fn main() {
    dossier_server::cli::main()
}
