from movingfashion.app.cli import main

main()
