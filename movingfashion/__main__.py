from movingfashion.cli import main

main()
