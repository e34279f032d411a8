from minishop.cli.app import main

main()
